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

\udf list
\d
\format vertical
SELECT * FROM 'sql/data/cities.csv' WHERE name = 'Lisbon';
