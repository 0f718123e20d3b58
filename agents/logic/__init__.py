"""Pure decision logic: no faust, no aiokafka, no prometheus_client, no clock, no I/O.

Time always comes in as an argument (epoch milliseconds)."""
