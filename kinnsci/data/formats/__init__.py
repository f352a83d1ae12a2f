"""Readers for the layouts of public PDE archives (PDEBench, The Well), the lazy HDF5
view they share, the xarray engines that expose them, and channel splitting."""
