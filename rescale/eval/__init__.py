"""The evaluation harness behind ``rescale eval``: the SR protocol (:mod:`.protocol`), the image sets
(:mod:`.datasets`), the metrics (:mod:`.metrics`), the results table and JSON (:mod:`.results`), the
HTML report (:mod:`.report`) and the Ray engine (:mod:`.ray`)."""
