# MinIO for the tests and docker/compose.yaml, built without any registry: an empty image around the static binary
# that scripts/build-servers.sh builds from the Go module proxy (CGO_ENABLED=0), plus a static busybox for the
# compose health check (sh, wget). Laid out like the official image (/usr/bin/minio; arguments start with
# `server`), so compose and the tests run either unchanged. Build context: scripts/build-images.ts assembles it.
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY minio /usr/bin/minio
WORKDIR /tmp
WORKDIR /data
ENV MINIO_UPDATE=off
EXPOSE 9000 9001
ENTRYPOINT ["/usr/bin/minio"]
CMD ["server", "/data"]
