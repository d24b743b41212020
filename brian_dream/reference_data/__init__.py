"""Released reward curves of the DYNAP-SE1 board (Blakowski et al. 2024), drawn beside ours."""
