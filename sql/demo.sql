-- wasql demo: SQL over the small data set in sql/data/.
-- Run from the repository root:  cargo run -- -f sql/demo.sql

-- Query a CSV file straight from its path.
SELECT name, country, population
FROM 'sql/data/cities.csv'
ORDER BY population DESC
LIMIT 3;

-- Register a TSV file as a table and join it with the CSV file.
CREATE EXTERNAL TABLE countries
STORED AS CSV LOCATION 'sql/data/countries.tsv'
OPTIONS ('format.delimiter' '	');

SELECT k.currency, count(*) AS cities, sum(c.population) AS people
FROM 'sql/data/cities.csv' c JOIN countries k ON c.country = k.code
GROUP BY k.currency
ORDER BY people DESC;

-- A hive-partitioned directory of NDJSON files: `year` comes from the paths.
SELECT year, count(*) AS trips, sum(km) AS km, sum(passengers) AS passengers
FROM 'sql/data/trips/'
GROUP BY year
ORDER BY year;

-- Write Parquet, partitioned by country, then read it back with a glob.
COPY (SELECT * FROM 'sql/data/cities.csv')
TO '/tmp/wasql-demo/cities/' STORED AS PARQUET PARTITIONED BY (country);

SELECT country, name
FROM '/tmp/wasql-demo/cities/'
WHERE country IN ('FR', 'IT')
ORDER BY name;

-- WebAssembly UDFs from udfs/dist (the demo command passes --udfs udfs/dist):
-- Rust examples and one in C, each called once per batch in a sandbox.
SELECT name,
       slugify(name || ' (' || country || ')') AS slug,
       round(haversine_km(lat, lon, 48.8566, 2.3522), 1) AS km_from_paris
FROM 'sql/data/cities.csv'
ORDER BY km_from_paris;

SELECT card, luhn_valid(card) AS valid
FROM (VALUES ('4539 3195 0343 6467'), ('8273 1232 7352 0569'), ('79927398713')) t(card);

-- Aggregates in WASM: geo_mean (Rust) and weighted_avg (C), grouped, and
-- geo_mean as a running window.
SELECT city,
       round(geo_mean(km), 2) AS geo_mean_km,
       round(weighted_avg(km, passengers), 2) AS km_per_passenger_trip
FROM 'sql/data/trips/'
GROUP BY city
ORDER BY city;

SELECT year, city, km, round(geo_mean(km) OVER (PARTITION BY city ORDER BY year, km), 2) AS running
FROM 'sql/data/trips/'
ORDER BY city, year, km;

-- A table function per row (apply): tokenize each city's name and country.
SELECT c.name, t.token, t.pos
FROM 'sql/data/cities.csv' c CROSS JOIN LATERAL tokenize(c.name || ' - ' || c.country) AS t
WHERE c.population > 3000000
ORDER BY c.name, t.pos;

-- A table function per partition (map_reduce): each user's clicks, in time
-- order, cut into sessions wherever 30 minutes pass without one.
SELECT s.*
FROM (VALUES (1, TIMESTAMP '2025-03-01 09:00:00'), (1, TIMESTAMP '2025-03-01 09:10:00'),
             (1, TIMESTAMP '2025-03-01 11:00:00'), (2, TIMESTAMP '2025-03-01 09:05:00'),
             (2, TIMESTAMP '2025-03-01 09:20:00'), (2, TIMESTAMP '2025-03-01 09:45:00'))
     AS e(user_id, ts),
     TABLE(sessionize(e.user_id, e.ts, 1800) OVER (PARTITION BY e.user_id ORDER BY e.ts)) AS s
ORDER BY s.user_id, s.session_id;

\udf list
\d
\format vertical
SELECT * FROM 'sql/data/cities.csv' WHERE name = 'Lisbon';
