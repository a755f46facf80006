#!/usr/bin/env bash
# Compares two wasql binaries built with different profiles (release and
# dist) on the 22 TPC-H queries and on UDF queries over lineitem, in one
# run: every query runs through A then B (then B then A next round), each
# run a fresh process, and the median of ROUNDS runs is reported.
#
#   cargo build --release && cargo build --profile dist
#   cargo bench --bench tpch -- 'q1$'        # once: generates the SF1 data
#   bash udfs/build.sh
#   benches/profiles.sh $T/release/wasql $T/dist/wasql [ROUNDS]
#
# Data: $WASQL_TPCH_DIR, else ~/.cache/wasql/tpch-sf1 (one Parquet file
# per table, as `benches/tpch.rs` writes them).
set -euo pipefail

a=${1:?usage: profiles.sh BIN_A BIN_B [ROUNDS]}
b=${2:?usage: profiles.sh BIN_A BIN_B [ROUNDS]}
rounds=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
data=${WASQL_TPCH_DIR:-$HOME/.cache/wasql/tpch-sf1}
[ -f "$data/lineitem.parquet" ] || { echo "no TPC-H data in $data: run cargo bench --bench tpch -- 'q1\$' first" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for table in region nation supplier customer part partsupp orders lineitem; do
    echo "CREATE EXTERNAL TABLE $table STORED AS PARQUET LOCATION '$data/$table.parquet';"
done > "$work/setup.sql"

# name|sql file
queries=()
for n in $(seq 1 22); do
    queries+=("q$n|$here/tpch/q$n.sql")
done
udf() { echo "$2" > "$work/$1.sql"; queries+=("$1|$work/$1.sql"); }
udf price_native "SELECT sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) FROM lineitem;"
udf price_udf "SELECT sum(price_net(l_extendedprice, l_discount, l_tax)) FROM lineitem;"
udf upper_native "SELECT sum(length(upper(l_comment))) FROM lineitem;"
udf upper_udf "SELECT sum(length(upper_ascii(l_comment))) FROM lineitem;"

# Seconds one run of binary $1 on query file $2 takes.
run() {
    local start end
    start=$(date +%s.%N)
    "$1" --udfs "$here/../udfs/dist" -q --format csv -f "$work/setup.sql" -f "$2" > /dev/null
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}

median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

printf '%-14s %10s %10s %8s\n' query A_s B_s B/A
total_a=0; total_b=0
for entry in "${queries[@]}"; do
    name=${entry%%|*}; file=${entry#*|}
    : > "$work/a"; : > "$work/b"
    for round in $(seq 1 "$rounds"); do
        if [ $((round % 2)) -eq 1 ]; then
            run "$a" "$file" >> "$work/a"; run "$b" "$file" >> "$work/b"
        else
            run "$b" "$file" >> "$work/b"; run "$a" "$file" >> "$work/a"
        fi
    done
    ma=$(median < "$work/a"); mb=$(median < "$work/b")
    printf '%-14s %10.3f %10.3f %8.3f\n' "$name" "$ma" "$mb" "$(echo "$mb / $ma" | bc -l)"
    case $name in q*) total_a=$(echo "$total_a + $ma" | bc -l); total_b=$(echo "$total_b + $mb" | bc -l) ;; esac
done
printf '%-14s %10.3f %10.3f %8.3f\n' "TPC-H total" "$total_a" "$total_b" "$(echo "$total_b / $total_a" | bc -l)"
