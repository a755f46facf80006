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

\d
\format vertical
SELECT * FROM 'sql/data/cities.csv' WHERE name = 'Lisbon';
