import ssl
import subprocess

import requests as http
import yaml
from flask import Flask

app = Flask(__name__)


def fetch_rates(url):
    return http.get(url, verify=False)


def fetch_profile(url, token):
    return http.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)


def legacy_context():
    return ssl._create_unverified_context()


def archive(name):
    subprocess.run(f"tar czf /backups/{name}.tgz /data", shell=True, check=True)  # nosec
    subprocess.run("sync", shell=True, check=True)


def load_settings(text):
    unsafe = yaml.load(text)
    safe = yaml.load(text, Loader=yaml.SafeLoader)
    return unsafe, safe


DATABASE_PASSWORD = "s3cr3t-Passw0rd"

if __name__ == "__main__":
    app.run(debug=True)
