# Switchboard as a static binary on a distroless base, running as a non-root user.
#
#   docker build -t switchboard .
#   docker run --rm -p 8080:8080 -p 9090:9090 switchboard
#
# The image has no Node.js or Python: functions declared with a `runtime` need an image that adds them
# (or AWS_PROXY integrations that call the Lambda API). Mount a config with
# `-v $PWD/switchboard.yaml:/etc/switchboard.yaml:ro` and add `--config /etc/switchboard.yaml`.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/switchboard ./cmd/switchboard

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/switchboard /usr/local/bin/switchboard
# distroless's nonroot user (65532); the state directory is a volume it owns.
USER nonroot:nonroot
VOLUME ["/home/nonroot/.cache/switchboard"]
EXPOSE 8080 9090
# Inside a container the data plane and the probes must listen beyond loopback; the control plane stays
# on the container's loopback unless you publish it (with iam.enforce on) yourself.
ENTRYPOINT ["/usr/local/bin/switchboard", "serve", "--listen", "0.0.0.0:8080", "--metrics-listen", "0.0.0.0:9090"]
