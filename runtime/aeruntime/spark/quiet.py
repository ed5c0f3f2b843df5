"""What ``aeruntime spark`` prints: Spark's own logging at ERROR unless ``--verbose``, and CLI wording.

Spark logs WARN lines through log4j2 from the moment its JVM starts (native-hadoop, the default
profile, ...). A session the command starts itself gets a log4j2 configuration at level ERROR
(a file written once per process, passed with ``spark.driver.extraJavaOptions``) before the JVM
starts (the ``repl.Main`` logger too: PySpark is an interpreter to Spark, which otherwise resets
the level to WARN and says so); every session, also one spark-submit started, gets
``setLogLevel("ERROR")``. PySpark's advisory that it does not yet fully support pandas 3 (a
warning per Arrow conversion) is not shown either, nor the stage progress bar when stderr is not
a terminal. ``--verbose`` leaves all of it as Spark and PySpark configure it.

The Python API's schema errors name ``features=[...]`` (Python syntax); on the command line
:func:`cli_error` names the ``--features`` option instead.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError

__all__ = ["LOG4J2_ERROR", "cli_error", "quiet_builder", "quiet_session"]

#: log4j2 properties: everything at ERROR, one line per event on stderr
LOG4J2_ERROR = """\
rootLogger.level = error
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = error
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
logger.submit.name = org.apache.spark.deploy.SparkSubmit
logger.submit.level = error
rootLogger.appenderRef.stderr.ref = stderr
appender.console.type = Console
appender.console.name = stderr
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
"""

_written: list[Path] = []


def _config_file() -> Path:
    """The log4j2 file of this process (written once, in the temporary folder)."""
    if not _written or not _written[0].is_file():
        fd, name = tempfile.mkstemp(prefix="aeruntime-log4j2-", suffix=".properties")
        with os.fdopen(fd, "w") as fh:
            fh.write(LOG4J2_ERROR)
        _written[:] = [Path(name)]
    return _written[0]


def quiet_builder(builder: Any) -> Any:
    """``builder`` with the driver's log4j2 at ERROR from JVM start (only where we start the JVM)."""
    warnings.filterwarnings("ignore", message=r"PySpark does not yet fully support pandas")
    option = f"-Dlog4j2.configurationFile=file:{_config_file()}"
    builder = builder.config("spark.driver.extraJavaOptions", option)
    if not sys.stderr.isatty():
        builder = builder.config("spark.ui.showConsoleProgress", "false")
    return builder


def quiet_session(session: Any) -> None:
    """Spark's log level at ERROR for the rest of the session; PySpark's pandas-3 advisory not shown."""
    warnings.filterwarnings("ignore", message=r"PySpark does not yet fully support pandas")
    session.sparkContext.setLogLevel("ERROR")


#: the Python API's wording -> the command line's
_CLI_WORDS = [
    (re.compile(r"^features=None: "), "without --features: "),
    (
        re.compile(r"Pass features=\[\.\.\.\] with the columns in the bundle's feature order, or features='col' "),
        "Pass --features COL1,COL2,... with the columns in the bundle's feature order, or --features COL ",
    ),
    (re.compile(r"Pass features=None to use"), "Leave out --features to use"),
    (re.compile(r"but features differs"), "but --features differs"),
]


def cli_error(exc: InvalidInputError) -> InvalidInputError:
    """``exc`` with the Python API's ``features=...`` wording replaced by the ``--features`` option."""
    text = str(exc)
    for pattern, words in _CLI_WORDS:
        text = pattern.sub(words, text)
    return exc if text == str(exc) else type(exc)(text)
