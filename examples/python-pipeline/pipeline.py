"""Extracts a few rows, transforms them with a dependency, writes the result as an output."""
import json
import os
import sys

from sovereign_demo_transform import normalise

rows = [{"Name": " Ada "}, {"Name": "Grace"}]
result = [normalise(row) for row in rows]
print(f"python {sys.version_info.major}.{sys.version_info.minor} in {sys.prefix}")
print(f"transformed {len(result)} rows: {json.dumps(result)}")
with open(os.path.join(os.environ["SOV_OUTPUT_DIR"], "rows.json"), "w") as out:
    json.dump(result, out)
