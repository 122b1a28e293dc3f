#!/bin/sh
# Regenerates cdk.out/ from app/ with the real AWS CDK from npm. Run it from this directory:
#   sh synth.sh
# It installs aws-cdk-lib, constructs and the aws-cdk CLI into a temporary directory, synthesizes the
# app there, and copies back the template and the assets (tree.json, manifests and reports are left out).
set -eu
here=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$here/app/." "$work/"
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund aws-cdk-lib@2.278.0 constructs@10.8.1 aws-cdk@2.1149.0 >/dev/null
NODE_PATH="$work/node_modules" ./node_modules/.bin/cdk synth --quiet --output cdk.out
rm -rf "$here/cdk.out"
mkdir "$here/cdk.out"
cp -r cdk.out/ChatStack.template.json cdk.out/asset.* "$here/cdk.out/"
