"""A `seed-demo --data DIR` folder written by a test: real or hand-made rows, tiny boundaries."""

from __future__ import annotations

import csv
import json
from pathlib import Path

ROI_HEADER = (
    "uniqid,region_code,jurisdiction,topic_id,name,description,votes,start_date,end_date,"
    "dateshare,url,lat,lon"
).split(",")
# A square "Арбат" around (55.75, 37.59) and a square "Нагорный" around (55.67, 37.61): the test's
# own boundaries (the real ones are not shipped).
SQUARES = {"Арбат": (37.58, 55.74, 37.60, 55.76), "Нагорный": (37.60, 55.66, 37.62, 55.68)}


def write_data_dir(tmp_path: Path, roi_rows: list[dict[str, str]]) -> Path:
    """A --data DIR with the four files seed-demo reads (empty UK and Madrid sets)."""
    data = tmp_path / "data"
    for folder in ("roi_petitions", "moscow_boundaries", "uk_petitions", "decide_madrid"):
        (data / folder).mkdir(parents=True)
    with (data / "roi_petitions" / "petitions_2013.csv").open(
        "w", encoding="utf-8", newline=""
    ) as fh:
        writer = csv.DictWriter(fh, fieldnames=ROI_HEADER, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(roi_rows)
    features = [
        {
            "type": "Feature",
            "properties": {"NAME": name},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
            },
        }
        for name, (x0, y0, x1, y1) in SQUARES.items()
    ]
    (data / "moscow_boundaries" / "mo.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    (data / "uk_petitions" / "petitions.jsonl").write_text("", encoding="utf-8")
    (data / "decide_madrid" / "proposals.csv").write_text(
        '"id";"title";"description";"cached_votes_up";"created_at";"retired_at"\n',
        encoding="utf-8",
    )
    return data
