"""The Discord face of Rumor Mill: one thin module per feature."""
