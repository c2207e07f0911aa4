this is not an HDF5 file
