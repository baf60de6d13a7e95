// COpenSSL: the OpenSSL headers Sluice uses (TLS and hashing).
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/md5.h>
#include <openssl/x509v3.h>
#include <openssl/crypto.h>
