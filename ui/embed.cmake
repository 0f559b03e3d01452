# The dashboard (ui/www/ and uPlot from npm) embedded in switchyard_core at build time: `npm ci`
# in ui/ when its lockfile is newer than the last install, then ui/embed.mjs writes
# ui_files_embedded.cpp (src/http/ui_files.cpp serves it at /ui). -DSWITCHYARD_UI=OFF builds an
# empty table instead (no node or npm needed; /ui then answers 404).
option(SWITCHYARD_UI "Embed the dashboard (ui/) in the binary; needs node and npm to build" ON)

set(SWITCHYARD_UI_CPP ${CMAKE_BINARY_DIR}/generated/ui_files_embedded.cpp)
if(SWITCHYARD_UI)
  find_program(SWITCHYARD_NODE node)
  find_program(SWITCHYARD_NPM npm)
  if(NOT SWITCHYARD_NODE OR NOT SWITCHYARD_NPM)
    message(FATAL_ERROR "The dashboard needs node and npm to build: run scripts/install-deps.sh "
                        "build (Debian's nodejs and npm), or configure with -DSWITCHYARD_UI=OFF")
  endif()
  set(ui_dir ${CMAKE_SOURCE_DIR}/ui)
  file(GLOB ui_www CONFIGURE_DEPENDS ${ui_dir}/www/*)
  # npm ci replaces ui/node_modules; its own .package-lock.json is the stamp of the install.
  set(ui_installed ${ui_dir}/node_modules/.package-lock.json)
  add_custom_command(OUTPUT ${ui_installed}
    COMMAND ${SWITCHYARD_NPM} ci --no-audit --no-fund --loglevel=error
    COMMAND ${CMAKE_COMMAND} -E touch ${ui_installed}
    WORKING_DIRECTORY ${ui_dir}
    DEPENDS ${ui_dir}/package.json ${ui_dir}/package-lock.json
    COMMENT "npm ci in ui/ (uPlot, from the lockfile)"
    VERBATIM)
  add_custom_command(OUTPUT ${SWITCHYARD_UI_CPP}
    COMMAND ${SWITCHYARD_NODE} ${ui_dir}/embed.mjs ${SWITCHYARD_UI_CPP}
    DEPENDS ${ui_dir}/embed.mjs ${ui_installed} ${ui_www}
    COMMENT "Embedding the dashboard (ui/www + uPlot)"
    VERBATIM)
else()
  set(ui_empty [=[// -DSWITCHYARD_UI=OFF: no dashboard files.
#include "switchyard/http/ui_files.hpp"

namespace switchyard {

std::span<const ui_file> embedded_ui_files() noexcept {
  return {};
}

}  // namespace switchyard
]=])
  file(CONFIGURE OUTPUT ${SWITCHYARD_UI_CPP} CONTENT "${ui_empty}" @ONLY)
  target_compile_definitions(switchyard_core PUBLIC SWITCHYARD_UI_OFF)
endif()
target_sources(switchyard_core PRIVATE ${SWITCHYARD_UI_CPP})
