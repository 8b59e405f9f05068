"""A reward imported by 'module:function' string in the tests."""


def bitrate_minus_10_rebuffer(c):
    return c["bitrate_mbps"] - 10.0 * c["rebuffer_s"]
