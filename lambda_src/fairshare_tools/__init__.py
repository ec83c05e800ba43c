"""athena-fairshare's tools, which never ship in the Lambda zip: the tenant client and CLIs, the
operators' tooling (deploy, local platform, load generator, usage reports, benchmarks), the scheduler
simulator, and the in-memory implementations of the ports (`testing`). They import the runtime package
`fairshare`; it never imports them."""
