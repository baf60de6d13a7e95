"""Core: COPY in and out of 100,000 rows, and a 10 MB value, byte-exact through sluice."""

import hashlib
import io
import random
import string
import uuid

import pytest

import support

ROWS = 100_000


@pytest.mark.parametrize("pool_mode", ["transaction", "session"])
def test_copy_100k_rows_in_and_out(sluice, pool_mode):
    s = sluice(support.sluice_config(pool_mode=pool_mode, pool_size=2))
    table = f"copy_{uuid.uuid4().hex[:8]}"
    lines = [f"{i}\tpayload-{i}-{hashlib.md5(str(i).encode()).hexdigest()}\n" for i in range(1, ROWS + 1)]
    data = "".join(lines)
    expected_md5 = hashlib.md5(",".join(line.split("\t")[1].rstrip("\n") for line in lines).encode()).hexdigest()

    conn = s.connect(autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute(f"create table {table} (id int primary key, payload text not null)")
            cur.copy_expert(f"COPY {table} (id, payload) FROM STDIN", io.StringIO(data))
            assert cur.rowcount == ROWS
        conn.commit()

        with conn.cursor() as cur:
            cur.execute(f"select count(*), sum(id), md5(string_agg(payload, ',' order by id)) from {table}")
            assert cur.fetchone() == (ROWS, ROWS * (ROWS + 1) // 2, expected_md5)
        conn.commit()

        out = io.StringIO()
        with conn.cursor() as cur:
            cur.copy_expert(f"COPY (select id, payload from {table} order by id) TO STDOUT", out)
        conn.commit()
        assert out.getvalue() == data

        # The connection is still in step after the COPYs.
        with conn.cursor() as cur:
            cur.execute(f"drop table {table}")
            cur.execute("select 1")
            assert cur.fetchone() == (1,)
        conn.commit()
    finally:
        conn.close()


def test_10_megabyte_value(sluice):
    s = sluice(support.sluice_config(pool_size=2))
    size = 10 * 1024 * 1024
    conn = s.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("select repeat('x', 10*1024*1024)")
            value = cur.fetchone()[0]
            assert len(value) == size and value == "x" * size

            rng = random.Random(20240601)
            alphabet = string.ascii_letters + string.digits + " éß€\t"
            big = "".join(rng.choices(alphabet, k=size))
            table = f"big_{uuid.uuid4().hex[:8]}"
            cur.execute(f"create table {table} (id int, body text)")
            cur.execute(f"insert into {table} values (1, %s), (2, repeat('x', 10*1024*1024))", (big,))
            cur.execute(f"select md5(body), length(body) from {table} where id = 1")
            assert cur.fetchone() == (hashlib.md5(big.encode()).hexdigest(), size)
            cur.execute(f"select body from {table} order by id")
            rows = cur.fetchall()
            assert rows[0][0] == big
            assert rows[1][0] == "x" * size
            cur.execute(f"drop table {table}")
            cur.execute("select 1")
            assert cur.fetchone() == (1,)
    finally:
        conn.close()
