"""Import benchmark: generate N members and N orders as CP932 CSV, import them twice (insert, then
update) into a database, and print rows/s and peak memory.

    .venv/bin/python bench/import_csv.py --rows 1000000 \
        --database postgresql://postgres@127.0.0.1:5432/mb_bench
The database is emptied first (DROP SCHEMA public) and migrated to head.
"""
import argparse
import os
import resource
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from lookups import importer
from plugin import create_app
from plugin.config import normalize_database_url


def write_members(path, n):
    """N members with Japanese names, two e-mails and a phone each."""
    with open(path, "w", encoding="cp932", newline="") as f:
        f.write("会員番号,氏名,フリガナ,メールアドレス,電話番号,郵便番号,住所,会員登録日\r\n")
        f.writelines(f"M{i:07d},山田 太郎{i},ヤマダ タロウ,user{i}@example.jp;u{i}@example.com,"
                     f"090-{i % 10000:04d}-{i // 10000:04d},100-0001,東京都千代田区千代田{i}番地,2024/05/01 12:34\r\n"
                     for i in range(n))


def write_orders(path, n):
    """N orders, each with two items."""
    with open(path, "w", encoding="cp932", newline="") as f:
        f.write("受注番号,モール,会員番号,メールアドレス,注文日時,受注ステータス,合計金額,商品\r\n")
        f.writelines(f"{i:08d},rakuten,M{i:07d},user{i}@example.jp,2024/05/01 09:00,発送済み,\"￥3,240\","
                     f"\"tea-100:有機緑茶 100g:1:1,620|tea-200:ほうじ茶:1:1,620\"\r\n" for i in range(n))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database", default=os.environ.get("MALLBRIDGE_BENCH_DATABASE_URL",
                                                            "postgresql://postgres@127.0.0.1:5432/mb_bench"))
    args = parser.parse_args()
    url = normalize_database_url(args.database)
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context(), tempfile.TemporaryDirectory() as tmp:
        upgrade(revision="heads")
        for kind, writer in (("members", write_members), ("orders", write_orders)):
            path = os.path.join(tmp, f"{kind}.csv")
            writer(path, args.rows)
            size = os.path.getsize(path) / 1e6
            for run in ("insert", "update"):
                start, cpu = time.perf_counter(), time.process_time()
                with open(path, "rb") as f:
                    report = importer.import_csv(kind, f)
                took, cpu = time.perf_counter() - start, time.process_time() - cpu
                assert not report.failed and not report.refused, (report.errors[:3], report.refused)
                print(f"{kind:8} {run:6} {args.rows:>9} rows {size:7.1f} MB {took:8.1f} s "
                      f"{args.rows / took:9.0f} rows/s, importer CPU {cpu:6.1f} s  (+{report.inserted} ~{report.updated})", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
