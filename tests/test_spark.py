"""The Spark path docs/batch-scoring.md shows, run for real: ``mlflow.pyfunc.spark_udf`` on a local
Spark session scores a model directory and gets the CLI's numbers, row for row, with
invalid rows given a ``reject_reason`` instead of failing the job."""

from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import pandas as pd
import pytest

from eihpredict.model_dir import load_model_dir
from eihpredict.scoring import score_frame

pytestmark = [pytest.mark.spark, pytest.mark.skipif(
    shutil.which("java") is None, reason="Spark needs a Java runtime (make test installs "
                                         "one with apt-get when it is missing)")]

RESULT = "participant_id string, p_impaired_eih double, eih_prediction string, " \
         "reject_reason string"


@pytest.fixture(scope="module")
def spark():
    pyspark = pytest.importorskip("pyspark.sql")
    # Python workers must run this environment's interpreter, not the first on PATH.
    saved = {k: os.environ.get(k) for k in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")}
    os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (pyspark.SparkSession.builder.master("local[1]").appName("eihpredict-test")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.driver.host", "127.0.0.1").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def test_spark_udf_gives_the_cli_numbers_and_rejects_bad_rows(spark, trained, cohort_csv,
                                                               tmp_path):
    from mlflow.pyfunc import spark_udf
    from pyspark.sql import functions as F

    rows = pd.read_csv(cohort_csv).head(120).drop(columns=["eih_ppt_pre_kpa",
                                                           "eih_ppt_post_kpa"])
    rows.loc[7, "pcs_01"] = 9  # one invalid row must not fail the job
    path = tmp_path / "rows.csv"
    rows.to_csv(path, index=False)
    frame = spark.read.csv(str(path), header=True, inferSchema=True)
    predict = spark_udf(spark, str(trained.model_dir), result_type=RESULT,
                        env_manager="local")
    columns = [F.col(c) for c in frame.columns]
    scored = frame.withColumn("out", predict(F.struct(*columns))).select("out.*").toPandas()
    assert len(scored) == len(rows)
    assert "pcs_01" in scored.loc[7, "reject_reason"] and pd.isna(scored.loc[7,
                                                                             "p_impaired_eih"])
    ours = score_frame(load_model_dir(trained.model_dir).model, rows).scored
    good = scored.drop(index=7).reset_index(drop=True)
    assert good["participant_id"].tolist() == ours["participant_id"].tolist()
    np.testing.assert_array_equal(good["p_impaired_eih"].to_numpy(),
                                  ours["p_impaired_eih"].to_numpy())
    assert good["eih_prediction"].tolist() == ours["eih_prediction"].tolist()
