import requests


def publish(url, payload):
    return requests.post(url, json=payload)
