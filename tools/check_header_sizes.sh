#!/usr/bin/env bash
# Header size budget (STYLE.md §7, §9): fails, listing them, if any include/**/*.hpp is over
# MAX_LINES lines (default 600). Split such a header into x.hpp + x_impl.hpp, or by topic.
#   tools/check_header_sizes.sh [MAX_LINES]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
max="${1:-600}"

over=()
count=0
while IFS= read -r -d '' header; do
  count=$((count + 1))
  lines=$(wc -l <"$header")
  if ((lines > max)); then
    over+=("$(printf '%6d  %s' "$lines" "$header")")
  fi
done < <(find include -type f -name '*.hpp' -print0 | sort -z)

if ((${#over[@]} > 0)); then
  echo "check_header_sizes: ${#over[@]} header(s) over $max lines:" >&2
  printf '%s\n' "${over[@]}" >&2
  exit 1
fi
echo "check_header_sizes: $count headers, all within $max lines"
