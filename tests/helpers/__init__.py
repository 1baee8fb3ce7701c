"""Helpers shared by the test folders (and the benchmarks): not tests themselves.

pixels, band_pixels    screenshots → NumPy arrays and the measures the browser tests read
dashboard_client       drive a dashboard's callbacks over HTTP the way the browser does
upload_helpers         put files into a session's upload folder through the chunked protocol
arrivals               wait for a file the browser downloads into a folder
"""
