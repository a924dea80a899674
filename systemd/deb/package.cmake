# The Debian package: `cpack -G DEB` in the build directory makes chatd_<version>_<arch>.deb with
# what `cmake --install` installs (/usr/sbin/chatd, /lib/systemd/system/chatd.service,
# /etc/chatd/chatd.yaml, /usr/share/doc/chatd) and the maintainer scripts of this directory.
# Included by the top-level CMakeLists.txt after its install rules.

set(CHATD_DEB_MAINTAINER "chatd maintainers <maintainers@users.noreply.r-seed-6238c629.example>"
  CACHE STRING "Maintainer field of the Debian package")

# Debian's changelog and copyright, where a native package keeps them (Policy 12.5 and 12.7).
find_program(GZIP_EXECUTABLE gzip REQUIRED)
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/deb/changelog.gz
  COMMAND ${CMAKE_COMMAND} -E copy ${CMAKE_CURRENT_LIST_DIR}/changelog ${CMAKE_BINARY_DIR}/deb/changelog
  COMMAND ${GZIP_EXECUTABLE} -9nf ${CMAKE_BINARY_DIR}/deb/changelog
  DEPENDS ${CMAKE_CURRENT_LIST_DIR}/changelog
  COMMENT "Compressing the Debian changelog" VERBATIM)
add_custom_target(chatd_deb_changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/deb/changelog.gz)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/copyright ${CMAKE_BINARY_DIR}/deb/changelog.gz
  DESTINATION ${CMAKE_INSTALL_DOCDIR})

# dpkg keeps an admin's edits of a conffile across upgrades (and asks when both sides changed).
file(WRITE ${CMAKE_BINARY_DIR}/deb/conffiles "${CMAKE_INSTALL_FULL_SYSCONFDIR}/chatd/chatd.yaml\n")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME chatd)
set(CPACK_PACKAGE_CONTACT "${CHATD_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Socket.IO 4 chat daemon sharing rooms through Redis")
# Wrapped at 72 columns by hand: CPack keeps the line breaks (an empty line is a paragraph).
set(CPACK_PACKAGE_DESCRIPTION [=[
chatd is a pre-forked, multi-core Socket.IO 4.x chat server. A master
process forks one worker per CPU core; the workers share the port with
SO_REUSEPORT and exchange room broadcasts through Redis pub/sub in the
@socket.io/redis-adapter wire format, so chatd instances and Node
servers using that adapter share rooms across hosts.

The package installs the daemon, its systemd unit (not enabled or
started on install) and /etc/chatd/chatd.yaml, every key with its
default.]=])
# The paths of the package are the build's: the unit's ExecStart names the binary it ships.
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends: what dpkg-shlibdeps (dpkg-dev) finds the binary linked against, and
# deb-systemd-helper and deb-systemd-invoke for the maintainer scripts (what debhelper adds).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "init-system-helpers (>= 1.54~)")
# chatd runs without Redis (local rooms only, /healthz "degraded") and a fleet shares one Redis
# elsewhere: a Redis on every chatd host is not the rule.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS redis-server)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_CURRENT_LIST_DIR}/postinst ${CMAKE_CURRENT_LIST_DIR}/prerm
  ${CMAKE_CURRENT_LIST_DIR}/postrm ${CMAKE_BINARY_DIR}/deb/conffiles)
# Scripts 0755, conffiles 0644, whatever the checkout's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
