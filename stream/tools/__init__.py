"""What people run: the command line, the simulator, replay, broker administration and the embedded broker."""
