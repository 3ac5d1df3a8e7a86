"""ClinicalTrials.gov API v2: query parameters (``params``), the HTTP client (``client``), study models
(``models``) and a local replay server (``replay``). Import the submodules you need; nothing here
does work at import time."""
