"""What a model file says about itself, read from its header only: format, type, architecture and facts."""
