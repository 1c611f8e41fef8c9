# install.cmake - what `cmake --install` puts besides the targets (each
# CMakeLists.txt installs its own binaries and libraries): the example
# configurations, the systemd unit, the documentation and the man pages, and
# jc_install_configured(), which the pkg-config file uses too. Included by
# the top-level CMakeLists.txt after GNUInstallDirs. docs/install.md
# describes the resulting layout.

# jc_install_configured(TEMPLATE NAME DESTINATION) installs TEMPLATE as
# DESTINATION/NAME, its @VAR@ placeholders substituted at install time for
# the prefix that install actually uses (`cmake --install --prefix P`, else
# CMAKE_INSTALL_PREFIX): @CMAKE_INSTALL_PREFIX@, @CMAKE_INSTALL_FULL_<DIR>@
# (absolute), @JC_PC_<DIR>@ (for pkg-config: ${prefix}/<DIR>, or
# absolute if <DIR> was given absolute) for DIR in BINDIR SBINDIR LIBDIR
# INCLUDEDIR DATADIR DOCDIR MANDIR, @PROJECT_NAME@ and @PROJECT_VERSION@.
# (Substituting at configure time would bake in the configure-time prefix,
# and a staged or relocated install would point at the wrong place.)
function(jc_install_configured template name destination)
  set(out "${CMAKE_CURRENT_BINARY_DIR}/install-configured/${name}")
  set(vars "PROJECT_NAME=${PROJECT_NAME}" "PROJECT_VERSION=${PROJECT_VERSION}")
  foreach(dir BINDIR SBINDIR LIBDIR INCLUDEDIR DATADIR DOCDIR MANDIR)
    list(APPEND vars "DIR_${dir}=${CMAKE_INSTALL_${dir}}")
  endforeach()
  install(CODE "include([==[${PROJECT_SOURCE_DIR}/cmake/configure_for_prefix.cmake]==])
jc_configure_for_prefix([==[${template}]==] [==[${out}]==] [==[${vars}]==])")
  install(FILES "${out}" DESTINATION "${destination}")
endfunction()

# JC_INSTALL_RPATH: the installed binaries that load libjobcoord.so find it
# relative to themselves ($ORIGIN/../lib), so an install under any prefix
# (/opt/jobcoord, a staging folder) works without ldconfig or
# LD_LIBRARY_PATH. Empty when libdir is a directory the linker searches
# anyway (/usr/lib/<multiarch> for --prefix /usr: distribution packages).
file(RELATIVE_PATH _jc_bin_to_lib ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR})
if(CMAKE_INSTALL_FULL_LIBDIR IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
  set(JC_INSTALL_RPATH "")
else()
  set(JC_INSTALL_RPATH "$ORIGIN/${_jc_bin_to_lib}")
endif()

# Example configurations and the SDK's example programs (sources: the
# example binaries are built for the tests and scripts/run-local but not
# installed), next to the documentation.
install(FILES config/jobcoord.conf.example config/keys.conf.example config/worker.conf.example
              config/jobcoord-worker.conf.example
              worker-sdk/examples/example_worker.c worker-sdk/examples/example_submit.c
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# The systemd unit, with ExecStart= in this install's bindir. lib/systemd/system
# under the prefix: /usr/lib/systemd/system for --prefix /usr, and
# /usr/local/lib/systemd/system (also searched by systemd) for /usr/local.
jc_install_configured(${PROJECT_SOURCE_DIR}/config/jobcoord.service jobcoord.service
                      lib/systemd/system)

# Documentation and man pages. A build from a partial tree (compose/Dockerfile
# copies only what the binaries need) has no docs/ and installs none.
if(EXISTS ${PROJECT_SOURCE_DIR}/docs/man)
  file(GLOB JC_DOC_FILES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md ${PROJECT_SOURCE_DIR}/docs/*.png)
  install(FILES README.md schemas/PROTOCOL.md ${JC_DOC_FILES} DESTINATION ${CMAKE_INSTALL_DOCDIR})
  # man pages, one per installed binary (version and paths filled in)
  foreach(page jobcoord.8 jobcoord-admin.8 jobcoord-mock-kafka.1 jobcoord-worker.1
               jobcoord-submit.1 jobcoord-token.1)
    string(REGEX MATCH "[0-9]$" section ${page})
    jc_install_configured(${PROJECT_SOURCE_DIR}/docs/man/${page} ${page}
                          ${CMAKE_INSTALL_MANDIR}/man${section})
  endforeach()
else()
  message(STATUS "docs/ not in the source tree: documentation and man pages are not installed")
endif()
