"""Parses Prometheus text from stdin with the reference parser (Debian's python3-prometheus-client) and prints one
JSON object per sample: {"name", "labels", "value"}. A malformed exposition raises, and the exit code says so."""
import json, sys
from prometheus_client.parser import text_string_to_metric_families

for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        print(json.dumps({"name": s.name, "type": family.type, "labels": s.labels, "value": s.value}))
