#!/usr/bin/env bash
# Rebuild shipped bundles: models/build.sh NAME [NAME ...] | all   (no NAME: list the recipes)
# Each recipe is one seeded `aeexport run` on scikit-learn's digits (class 0 = the unseen anomaly)
# that writes the bundle atomically into models/NAME. Add a bundle by adding a recipe line.
# A recipe in SERIES runs on a generated series instead: `python models/series_demo.py
# runs/series-demo.csv` writes it (deterministic, numpy only), then `aeexport run` on that file.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A RECIPES=(
  [digits-dense]="--model dense --seed 0"
  [digits-conv]="--model conv --epochs 200 --seed 0"
  [digits-vae]="--model vae --epochs 200 --seed 0"
  [series-dense]="--window auto --time-column time --epochs 40 --seed 0"
)
declare -A SERIES=([series-dense]="runs/series-demo.csv")

if [ "$#" -eq 0 ]; then
  for name in "${!RECIPES[@]}"; do
    echo "$name: aeexport run ${SERIES[$name]:-digits} ${RECIPES[$name]} --out runs/$name --bundle models/$name"
  done | sort
  exit 0
fi
if [ "$1" = "all" ]; then set -- $(printf '%s\n' "${!RECIPES[@]}" | sort); fi
for name in "$@"; do
  recipe="${RECIPES[$name]:-}"
  if [ -z "$recipe" ]; then echo "unknown bundle $name; known: ${!RECIPES[*]}" >&2; exit 2; fi
  data="${SERIES[$name]:-digits}"
  if [ "$data" != digits ]; then mkdir -p runs && python models/series_demo.py "$data"; fi
  # shellcheck disable=SC2086
  aeexport run "$data" $recipe --quiet --out "runs/$name" --bundle "models/$name"
done
