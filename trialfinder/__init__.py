"""trialfinder: find clinical trials for advanced mesothelioma from ClinicalTrials.gov data."""

__version__ = "0.1.0"
