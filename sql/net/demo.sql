-- The "read the online config" job: a WASM UDF labels rows with a mapping
-- published at a URL. sql/net/demo.sh serves this directory on 127.0.0.1,
-- allows only that server in a [net] config, and replaces {CONFIG_URL}.

-- label() fetches the mapping once per query (identical requests are shared)
-- and labels every row; PL is not in the mapping, so its label is NULL.
SELECT name, country, label(country, '{CONFIG_URL}') AS country_name
FROM 'sql/data/cities.csv' ORDER BY name;

-- The same document from SQL, with its status and headers.
SELECT r['status'] AS status, length(r['body']) AS bytes
FROM (SELECT http_get_response('{CONFIG_URL}') AS r);

-- Anything else is refused, and the refusal is an error naming the URL.
\i sql/net/refused.sql

-- Every attempt is on record.
SELECT query_id, function, method, url, decision, status, bytes, cache_hit
FROM wasql.net_log ORDER BY time;
