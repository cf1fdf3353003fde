# fake-gcs-server for the tests and docker/compose.yaml, built without any registry: an empty image around the
# static binary scripts/build-servers.sh builds from the Go module proxy (CGO_ENABLED=0), plus a static busybox for
# the compose health check (sh, wget). Same entrypoint as the official fsouza/fake-gcs-server image.
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY fake-gcs-server /bin/fake-gcs-server
WORKDIR /tmp
WORKDIR /data
EXPOSE 4443
ENTRYPOINT ["/bin/fake-gcs-server", "-data", "/data"]
