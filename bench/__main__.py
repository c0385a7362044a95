"""`make bench` / `python -m bench`: every benchmark, one line each."""

from bench import search, throughput

search.main()
throughput.main()
