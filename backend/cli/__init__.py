"""`modelvault`: a command line for the ModelVault REST API, for people who live in a terminal."""
