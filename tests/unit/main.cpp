// doctest's main for the chatd_unit_tests binary; every tests/unit/test_*.cpp adds its cases.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
