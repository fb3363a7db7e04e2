"""Speech recognisers behind one small interface."""
