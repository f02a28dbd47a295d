// Reading QR codes in the browser with jsQR (vendor/jsqr.mjs): from an image
// file (a photo of a venue poster, a screenshot of a health code) or from the
// camera (getUserMedia).
import jsQR from '../vendor/jsqr.mjs';

const OPTIONS = { inversionAttempts: 'attemptBoth' };

function decodeSource(source, width, height, maxSide) {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  // A white background: transparent pixels of an SVG or PNG read as black otherwise.
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, h);
  ctx.drawImage(source, 0, 0, w, h);
  const found = jsQR(ctx.getImageData(0, 0, w, h).data, w, h, OPTIONS);
  return found ? found.data : null;
}

/** The content of the QR code in an image file, or null if none is found. */
export async function decodeImageFile(file) {
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    const width = img.naturalWidth || 1024;
    const height = img.naturalHeight || 1024;
    // Phone photos are large: try a moderate size first, then finer ones.
    for (const maxSide of [1000, 1600, 2400, 600]) {
      const content = decodeSource(img, width, height, maxSide);
      if (content) return content;
    }
    return null;
  } finally {
    URL.revokeObjectURL(url);
  }
}

/**
 * Reads QR codes from the camera into `video` until `onCode` returns true
 * (or stop() is called). Resolves once the camera runs; rejects with the
 * getUserMedia error.
 */
export async function startCamera(video, onCode) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw Object.assign(new Error('camera unavailable'), { name: 'NotSupportedError' });
  }
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  video.srcObject = stream;
  video.setAttribute('playsinline', '');
  await video.play();
  let running = true;
  let last = 0;
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const stop = () => {
    running = false;
    stream.getTracks().forEach((t) => t.stop());
    video.srcObject = null;
  };
  const tick = async (now) => {
    if (!running) return;
    // About five frames a second is enough, and spares a phone's battery.
    if (now - last > 200 && video.readyState >= video.HAVE_CURRENT_DATA && video.videoWidth) {
      last = now;
      const scale = Math.min(1, 800 / Math.max(video.videoWidth, video.videoHeight));
      canvas.width = Math.round(video.videoWidth * scale);
      canvas.height = Math.round(video.videoHeight * scale);
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      const found = jsQR(ctx.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, canvas.height, { inversionAttempts: 'dontInvert' });
      if (found && found.data && (await onCode(found.data))) {
        stop();
        return;
      }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  return { stop };
}

/** The explanation of a getUserMedia failure. */
export function cameraError(err) {
  switch (err && err.name) {
    case 'NotAllowedError':
      return '未获得摄像头权限，请在浏览器设置中允许，或上传二维码图片';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return '未找到可用的摄像头，请上传二维码图片';
    case 'NotSupportedError':
      return '此浏览器不支持摄像头扫码（需要 HTTPS 或本机地址），请上传二维码图片';
    default:
      return '无法开启摄像头，请上传二维码图片';
  }
}

/** The `c` token of a venue code, or null when the content is not one. */
export function venueToken(content) {
  const text = (content || '').trim();
  const q = text.indexOf('?');
  if (q >= 0) return new URLSearchParams(text.slice(q + 1)).get('c');
  return /^[A-Za-z0-9_]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(text) ? text : null;
}

/**
 * Whether content looks like a personal health code: ours (`HBHC:`), or
 * another issuer's prefix (capitals, digits, `:` `/` `-`, ending in `:` or
 * `/`) and a compact JWS. Whether that issuer is trusted is the server's to say.
 */
export const isHealthCode = (content) => {
  const text = (content || '').trim();
  return /^HBHC:/.test(text) || /^[A-Z][A-Z0-9:/-]{1,30}[:/][\w-]+\.[\w-]+\.[\w-]*$/.test(text);
};
