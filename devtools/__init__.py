"""What the tests and the benchmarks share (never imported by the platform itself): data
factories and the worker's command line. Needs the development requirements."""
