# configure_for_prefix.cmake - runs at install time, inside cmake_install.cmake
# (see jc_install_configured in install.cmake), where CMAKE_INSTALL_PREFIX is
# the prefix of this install. jc_configure_for_prefix(TEMPLATE OUT VARS)
# writes OUT from TEMPLATE (@ONLY). VARS: NAME=VALUE pairs; DIR_<D>=<value of
# CMAKE_INSTALL_<D>> also defines CMAKE_INSTALL_<D>, CMAKE_INSTALL_FULL_<D>
# and JC_PC_<D> (${prefix}/<D> for pkg-config files, or the absolute
# path when <D> is absolute).
function(jc_configure_for_prefix template out vars)
  foreach(pair IN LISTS vars)
    if(NOT pair MATCHES "^([A-Za-z_]+)=(.*)$")
      message(FATAL_ERROR "jc_configure_for_prefix: bad pair '${pair}'")
    endif()
    set(name "${CMAKE_MATCH_1}")
    set(value "${CMAKE_MATCH_2}")
    if(name MATCHES "^DIR_(.+)$")
      set(dir "${CMAKE_MATCH_1}")
      set(CMAKE_INSTALL_${dir} "${value}")
      if(IS_ABSOLUTE "${value}")
        set(CMAKE_INSTALL_FULL_${dir} "${value}")
        set(JC_PC_${dir} "${value}")
      else()
        set(CMAKE_INSTALL_FULL_${dir} "${CMAKE_INSTALL_PREFIX}/${value}")
        set(JC_PC_${dir} "\${prefix}/${value}")
      endif()
    else()
      set(${name} "${value}")
    endif()
  endforeach()
  configure_file("${template}" "${out}" @ONLY)
endfunction()
