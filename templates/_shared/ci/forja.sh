#!/bin/sh
# The steps of this project's CI jobs (.github/workflows/forja.yml and
# .gitlab-ci.yml both call this script), so they run the same anywhere:
#
#   sh ci/forja.sh test             build, then a full test run: the evidence
#                                   `forja release` bundles (cache/test-report.json)
#   sh ci/forja.sh deploy-dev       deploy deploy.toml to the dev chain
#   sh ci/forja.sh promote ENV      promote the release to ENV from a fresh
#                                   checkout (no out/, no cache needed: the
#                                   bundle in releases/ is what is deployed),
#                                   verify the audit log, commit the records;
#                                   pushes them and the tag when
#                                   FORJA_PUSH_BRANCH names a branch
#
# Keys come from CI secrets, never from the repository in clear:
# FORJA_KEYSTORE_PASSWORD unlocks the committed keys/preprod-deployer.json,
# FORJA_PROD_KEY holds prod's key.
set -eu

case "${1:-}" in
  test)
    forja build
    forja test --junit report.xml
    ;;
  deploy-dev)
    forja deploy --env dev
    ;;
  promote)
    env="${2:?usage: sh ci/forja.sh promote ENV}"
    forja promote --to "$env"
    forja audit verify
    git add deployments releases
    if ! git diff --cached --quiet; then
      git -c user.name="${GIT_AUTHOR_NAME:-forja CI}" \
          -c user.email="${GIT_AUTHOR_EMAIL:-forja-ci@localhost}" \
          commit -q -m "forja: promote to $env"
    fi
    if [ -n "${FORJA_PUSH_BRANCH:-}" ]; then
      git push --follow-tags origin "HEAD:refs/heads/$FORJA_PUSH_BRANCH"
    fi
    ;;
  *)
    echo "usage: sh ci/forja.sh test | deploy-dev | promote ENV" >&2
    exit 2
    ;;
esac
