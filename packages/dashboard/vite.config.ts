import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The dashboard is a static build the control plane serves at `/`. `npm run dev -w
 * @sovereign/dashboard` serves it with hot reload and sends API calls to a control plane
 * on :8080 (`npm start`); the data planes are called directly, as in production.
 */
export default defineConfig({
  plugins: [react()],
  build: {
    target: 'es2022',
    // Every browser that runs es2022 supports modulepreload: the polyfill is dead weight.
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 300,
  },
  server: {
    proxy: {
      '/api': process.env.SOV_CONTROL_PLANE_URL ?? 'http://127.0.0.1:8080',
      '/.well-known': process.env.SOV_CONTROL_PLANE_URL ?? 'http://127.0.0.1:8080',
    },
  },
});
