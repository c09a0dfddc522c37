"""Known answers: codes already texted, emailed or printed on paper keep working whatever the code
around the signer becomes (itsdangerous Signer, salt pops.link.{purpose}, SHA-256, 25 bits kept)."""
import pytest

from pops import links

SECRET = "k" * 48

KNOWN = [
    ("sms", "S0123456789ABCDZP4HA"),
    ("email", "E0123456789ABCDAZ5YV"),
    ("statement", "QABCDEFGHJKMNPQ4VNGP"),
    ("desk", "DZYXWVTSRQPNMKJHED5J"),
]


@pytest.mark.parametrize("purpose,code", KNOWN)
def test_a_code_signed_before_stays_genuine(purpose, code):
    found = links.verify(links.group_code(code), SECRET)
    assert found == links.GenuineCode(purpose=purpose, key=code[:15])


@pytest.mark.parametrize("purpose,code", KNOWN)
def test_the_same_body_under_another_purpose_or_key_is_not(purpose, code):
    assert links.verify(code, "j" * 48) is None
    other = {"sms": "E", "email": "S", "statement": "D", "desk": "Q"}[purpose]
    assert links.verify(other + code[1:], SECRET) is None
