# Debian packages with `cpack -G DEB` (run in the build folder):
#   fivo         the host, libfivo and libfivo_seqmodel (shared objects), the
#                bundled plugins and fivo(1); dependencies from dpkg-shlibdeps
#   libfivo-dev  the SDK: headers, fivo.pc, the fivo CMake package, the
#                example plugin's sources; depends on fivo of the same version
# Everything installs into the "runtime" component unless marked "dev".
set(CPACK_PACKAGE_NAME fivo)
set(CPACK_PACKAGE_VENDOR "fivo")
set(CPACK_PACKAGE_CONTACT "fivo maintainers <fivo@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "sequential latent-variable models with ELBO, IWAE and FIVO bounds")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME fivo)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
# shlibs file and the ldconfig trigger for libfivo.so.0 and libfivo_seqmodel.so.0
set(CPACK_DEBIAN_RUNTIME_PACKAGE_GENERATE_SHLIBS ON)
# the bundled libraries are found through the binaries' $ORIGIN run paths
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS "${CMAKE_BINARY_DIR}/core" "${CMAKE_BINARY_DIR}/sdk/families/seqmodel")
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "fivo: train and evaluate VRNN, SRNN and Gaussian HMM models
 The fivo executable with its bundled model, bound, resampler and dataset
 plugins, the libfivo and libfivo_seqmodel shared libraries and fivo(1).")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libfivo-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "fivo (= ${PROJECT_VERSION}), pkg-config")
set(CPACK_DEBIAN_DEV_DESCRIPTION "fivo SDK: headers, pkg-config and CMake files for plugins
 Everything a third-party fivo plugin is built with: the fivo/*.h headers,
 fivo.pc, the fivo CMake package (find_package(fivo)) and the lgssm example.")
include(CPack)
