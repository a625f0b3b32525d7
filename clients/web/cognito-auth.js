// @ts-check
/**
 * Sign-in with Amazon Cognito as a production web app does it: SRP (USER_SRP_AUTH, the password
 * never leaves the browser) through amazon-cognito-identity-js, and the session's **access**
 * token for the API (the ID token is refused), refreshed with the refresh token when it expires.
 *
 * The library is passed in, so this file has no import to resolve: a bundled app passes
 * `import * as AmazonCognitoIdentity from "amazon-cognito-identity-js"`; a page without a build
 * loads the library's dist/amazon-cognito-identity.min.js, which defines the global this uses by
 * default. `endpoint` points it at another Cognito than AWS's (the local stack's moto).
 *
 *   const auth = new CognitoAuth({ userPoolId, clientId });
 *   await auth.signIn(email, password);
 *   const client = new EchoesClient({ baseUrl, getToken: () => auth.accessToken() });
 */

/** @typedef {typeof import("amazon-cognito-identity-js")} CognitoLibrary */
/** @typedef {import("amazon-cognito-identity-js").CognitoUser} CognitoUser */
/** @typedef {import("amazon-cognito-identity-js").CognitoUserSession} CognitoUserSession */

/**
 * @typedef {object} AuthOptions
 * @property {string} userPoolId The stack's UserPoolId output ("us-east-1_…").
 * @property {string} clientId The stack's UserPoolClientId output (an app client without a secret).
 * @property {string} [endpoint] Cognito's URL when it is not AWS's (the local stack's moto server).
 * @property {import("amazon-cognito-identity-js").ICognitoStorage} [storage] Where the session is
 *   kept: the library's default is localStorage; sessionStorage forgets it with the tab.
 * @property {CognitoLibrary} [library] Defaults to the global AmazonCognitoIdentity.
 */

/** A refusal or failure of Cognito: `code` is Cognito's (NotAuthorizedException,
 * UserNotConfirmedException, CodeMismatchException, InvalidPasswordException, ...). */
export class CognitoAuthError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = "CognitoAuthError";
    this.code = code;
  }
}

/** @param {unknown} error @returns {CognitoAuthError} */
function authError(error) {
  const { code, name, message } = /** @type {{ code?: string, name?: string, message?: string }} */ (error ?? {});
  return new CognitoAuthError(code ?? name ?? "UnknownError", message ?? String(error));
}

export class CognitoAuth {
  /** @param {AuthOptions} options */
  constructor(options) {
    const library = options.library ?? /** @type {{ AmazonCognitoIdentity?: CognitoLibrary }} */ (globalThis).AmazonCognitoIdentity;
    if (!library) {
      throw new CognitoAuthError("LibraryMissing", "amazon-cognito-identity-js is not loaded");
    }
    this.library = library;
    this.storage = options.storage;
    this.pool = new library.CognitoUserPool({
      UserPoolId: options.userPoolId,
      ClientId: options.clientId,
      endpoint: options.endpoint,
      Storage: options.storage,
    });
  }

  /** @param {string} email @returns {CognitoUser} */
  user(email) {
    return new this.library.CognitoUser({ Username: email, Pool: this.pool, Storage: this.storage });
  }

  /**
   * A new account; Cognito e-mails a code to confirm it (confirmSignUp) before it can sign in.
   * @param {string} email @param {string} password @returns {Promise<{ confirmed: boolean }>}
   */
  signUp(email, password) {
    const attributes = [new this.library.CognitoUserAttribute({ Name: "email", Value: email })];
    return new Promise((resolve, reject) => {
      this.pool.signUp(email, password, attributes, [], (error, result) =>
        error || !result ? reject(authError(error)) : resolve({ confirmed: result.userConfirmed }),
      );
    });
  }

  /** @param {string} email @param {string} code the e-mailed code @returns {Promise<void>} */
  confirmSignUp(email, code) {
    return new Promise((resolve, reject) => {
      this.user(email).confirmRegistration(code, true, (error) => (error ? reject(authError(error)) : resolve()));
    });
  }

  /**
   * Sign in with SRP. Challenges this app does not handle (a new password required, MFA) are
   * refused with their name as the code.
   * @param {string} email @param {string} password @returns {Promise<void>}
   */
  signIn(email, password) {
    const user = this.user(email);
    user.setAuthenticationFlowType("USER_SRP_AUTH");
    const details = new this.library.AuthenticationDetails({ Username: email, Password: password });
    return new Promise((resolve, reject) => {
      const unsupported = (/** @type {string} */ name) => () =>
        reject(new CognitoAuthError(name, `Cognito asks for ${name}, which this app does not support`));
      user.authenticateUser(details, {
        onSuccess: () => resolve(),
        onFailure: (error) => reject(authError(error)),
        newPasswordRequired: unsupported("NEW_PASSWORD_REQUIRED"),
        mfaRequired: unsupported("SMS_MFA"),
        totpRequired: unsupported("SOFTWARE_TOKEN_MFA"),
        mfaSetup: unsupported("MFA_SETUP"),
        selectMFAType: unsupported("SELECT_MFA_TYPE"),
        customChallenge: unsupported("CUSTOM_CHALLENGE"),
      });
    });
  }

  /** The signed-in user and session, refreshed first when its tokens have expired; null when
   * signed out. @returns {Promise<{ user: CognitoUser, session: CognitoUserSession } | null>} */
  async signedIn() {
    const user = this.pool.getCurrentUser();
    if (!user) return null;
    const session = await new Promise((resolve, reject) => {
      user.getSession((/** @type {Error | null} */ error, /** @type {CognitoUserSession | null} */ session) =>
        error ? reject(authError(error)) : resolve(session),
      );
    });
    return session ? { user, session } : null;
  }

  /** What to send as `Authorization: Bearer …`: the access token; null when signed out.
   * @returns {Promise<string | null>} */
  async accessToken() {
    return (await this.signedIn())?.session.getAccessToken().getJwtToken() ?? null;
  }

  /** The signed-in user's e-mail, read from Cognito (GetUser, with the access token).
   * @returns {Promise<string | null>} */
  async email() {
    const signedIn = await this.signedIn();
    if (!signedIn) return null;
    const attributes = await new Promise((resolve, reject) => {
      signedIn.user.getUserAttributes((error, result) => (error ? reject(authError(error)) : resolve(result ?? [])));
    });
    return /** @type {import("amazon-cognito-identity-js").CognitoUserAttribute[]} */ (attributes)
      .find((attribute) => attribute.getName() === "email")?.getValue() ?? null;
  }

  /**
   * Forget the session here. With revoke (the default), Cognito first revokes the refresh token
   * (RevokeToken); access tokens already issued stay valid for this API until they expire, since
   * API Gateway's authorizer does not ask Cognito. After the account was erased there is nothing
   * left to revoke: pass { revoke: false }.
   * @param {{ revoke?: boolean }} [options] @returns {Promise<void>}
   */
  signOut(options = {}) {
    const user = this.pool.getCurrentUser();
    if (!user) return Promise.resolve();
    if (options.revoke === false) {
      user.signOut();
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      // The library calls back with the revocation's error, which its declaration leaves out.
      const revoked = /** @type {() => void} */ ((/** @type {unknown} */ error) => {
        user.signOut(); // the local session goes even when revoking failed
        error ? reject(authError(error)) : resolve();
      });
      user.signOut(revoked);
    });
  }
}
