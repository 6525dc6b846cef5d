"""The Data agent's skills: loading, cleaning and splitting the data, profiling it, checking and
fixing labels, annotating and augmenting, the dataset catalog, plots, and whether there is enough."""
