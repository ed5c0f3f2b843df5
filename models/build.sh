#!/usr/bin/env bash
# Rebuild shipped bundles: models/build.sh NAME [NAME ...]   (no NAME: list the recipes)
# Each recipe is one `aeexport run` on scikit-learn's digits (seeded, class 0 = the unseen anomaly);
# the bundle directory is then copied into models/NAME. Add a bundle by adding a recipe line.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A RECIPES=(
  [digits-conv]="--model conv --epochs 200 --seed 0"
  [digits-vae]="--model vae --epochs 200 --seed 0"
)

if [ "$#" -eq 0 ]; then
  for name in "${!RECIPES[@]}"; do echo "$name: aeexport run --dataset digits ${RECIPES[$name]}"; done | sort
  exit 0
fi
for name in "$@"; do
  recipe="${RECIPES[$name]:-}"
  if [ -z "$recipe" ]; then echo "unknown bundle $name; known: ${!RECIPES[*]}" >&2; exit 2; fi
  work="$(mktemp -d)"
  # shellcheck disable=SC2086
  aeexport run --dataset digits --out "$work" --quiet $recipe
  rm -rf "models/$name.tmp" && cp -r "$work/bundle" "models/$name.tmp"
  rm -rf "models/$name" && mv "models/$name.tmp" "models/$name"
  cp "$work/summary.json" "/tmp/$name-summary.json"
  rm -rf "$work"
  echo "built models/$name ($(du -sh "models/$name" | cut -f1)); summary: /tmp/$name-summary.json"
done
