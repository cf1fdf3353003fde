# toxiproxy for the network-fault tests, built without any registry: an empty image around the static binary
# scripts/build-servers.sh builds from the Go module proxy (CGO_ENABLED=0). Same layout as the official image
# (ghcr.io/shopify/toxiproxy): the server at /toxiproxy, API on 8474.
FROM scratch
COPY toxiproxy-server /toxiproxy
EXPOSE 8474
ENTRYPOINT ["/toxiproxy"]
CMD ["-host=0.0.0.0"]
