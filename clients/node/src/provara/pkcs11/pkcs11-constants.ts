/** PKCS#11 v2.40/3.0 constants used here, named as the standard names them. */
export const CKF_SERIAL_SESSION = 0x4;
export const CKF_RW_SESSION = 0x2;
export const CKF_TOKEN_PRESENT = 0x1;
/** The token has a PIN pad: C_Login is called with a NULL PIN and the user types it on the reader. */
export const CKF_PROTECTED_AUTHENTICATION_PATH = 0x100;
export const CKF_TOKEN_INITIALIZED = 0x400;
export const CKU_USER = 1;

export const CKO_PUBLIC_KEY = 2;
export const CKO_PRIVATE_KEY = 3;
export const CKK_EC_EDWARDS = 0x40;

export const CKA_CLASS = 0x0;
export const CKA_TOKEN = 0x1;
export const CKA_PRIVATE = 0x2;
export const CKA_LABEL = 0x3;
export const CKA_KEY_TYPE = 0x100;
export const CKA_ID = 0x102;
export const CKA_SENSITIVE = 0x103;
export const CKA_SIGN = 0x108;
export const CKA_VERIFY = 0x10a;
export const CKA_EXTRACTABLE = 0x162;
export const CKA_EC_PARAMS = 0x180;
export const CKA_EC_POINT = 0x181;

export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
/** Pure EdDSA over the whole message: exactly Provara Profile A's signature (no prehash, no context). */
export const CKM_EDDSA = 0x1057;

/** DER of OID 1.3.101.112 (id-Ed25519), the CKA_EC_PARAMS that selects Ed25519. */
export const ED25519_EC_PARAMS = new Uint8Array([0x06, 0x03, 0x2b, 0x65, 0x70]);

export const CKR: Record<number, string> = {
  0: 'CKR_OK',
  3: 'CKR_SLOT_ID_INVALID',
  5: 'CKR_GENERAL_ERROR',
  6: 'CKR_FUNCTION_FAILED',
  7: 'CKR_ARGUMENTS_BAD',
  48: 'CKR_DEVICE_ERROR',
  50: 'CKR_DEVICE_REMOVED',
  96: 'CKR_KEY_HANDLE_INVALID',
  99: 'CKR_KEY_TYPE_INCONSISTENT',
  112: 'CKR_MECHANISM_INVALID',
  113: 'CKR_MECHANISM_PARAM_INVALID',
  160: 'CKR_PIN_INCORRECT',
  161: 'CKR_PIN_INVALID',
  162: 'CKR_PIN_LEN_RANGE',
  164: 'CKR_PIN_LOCKED',
  179: 'CKR_SESSION_HANDLE_INVALID',
  224: 'CKR_TOKEN_NOT_PRESENT',
  225: 'CKR_TOKEN_NOT_RECOGNIZED',
  256: 'CKR_USER_ALREADY_LOGGED_IN',
  257: 'CKR_USER_NOT_LOGGED_IN',
  336: 'CKR_BUFFER_TOO_SMALL',
  400: 'CKR_CRYPTOKI_NOT_INITIALIZED',
  401: 'CKR_CRYPTOKI_ALREADY_INITIALIZED',
};
export const CKR_OK = 0;
export const CKR_PIN_INCORRECT = 0xa0;
export const CKR_PIN_LOCKED = 0xa4;
export const CKR_USER_ALREADY_LOGGED_IN = 0x100;
export const CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191;
