"""Pieces the silver and gold workloads share: Spark job helpers, Iceberg tables, run records.

``spark_common`` ships to EMR Serverless with both Spark jobs (Python 3.9, pyspark and the
standard library only); the other modules run in the Lambdas and the local engine.
"""
